/** Deletion orders 0-11 of a snapshot/clone family (see vdi-delete-orders.ts). */
import { deletionOrders } from './vdi-delete-orders.js';

deletionOrders(0, 12);
