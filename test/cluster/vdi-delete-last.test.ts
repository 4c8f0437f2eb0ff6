/** Deletion orders 12-23 of a snapshot/clone family (see vdi-delete-orders.ts). */
import { deletionOrders } from './vdi-delete-orders.js';

deletionOrders(12, 24);
