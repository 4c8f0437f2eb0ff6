/**
 * io.test.ts's tests again, on the fuse-native fallback backend (SHEEPFS_FUSE
 * is inherited by every sheepfs the tests start), so that both backends are
 * covered: the kernel one is the default as root.
 */
process.env.SHEEPFS_FUSE = 'native';
await import('./io.test.js');
