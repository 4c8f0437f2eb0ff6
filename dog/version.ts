/** The version dog reports; the reference transcript was taken from 1.0.1. */
export const DOG_VERSION = '1.0.1';
