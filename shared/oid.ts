/** Object ids: 64-bit values with kind bits, a 24-bit VDI id and a 32-bit index. */

export const VDI_BIT = 1n << 63n;
export const VMSTATE_BIT = 1n << 62n;
export const VDI_ATTR_BIT = 1n << 61n;
export const VDI_BTREE_BIT = 1n << 60n;
export const LEDGER_BIT = 1n << 59n;
const KIND_BITS = VDI_BIT | VMSTATE_BIT | VDI_ATTR_BIT | VDI_BTREE_BIT | LEDGER_BIT;
const VDI_MASK = 0x00ffffff00000000n;
const U32 = 0xffffffffn;

export const VDI_SPACE_SHIFT = 32;
export const SD_NR_VDIS = 1 << 24;
export const SD_DATA_OBJ_SIZE = 4 * 1024 * 1024;
export const SD_DEFAULT_BLOCK_SIZE_SHIFT = 22;
export const SD_MIN_BLOCK_SIZE_SHIFT = 20;
export const SD_MAX_BLOCK_SIZE_SHIFT = 31;
/** Index slots of a flat inode (data_vdi_id entries). */
export const SD_INODE_DATA_INDEX = 1 << 20;
export const SD_INODE_SIZE = 12587576;
export const SD_INODE_HEADER_SIZE = 4664;
export const SD_INODE_DATA_INDEX_SIZE = 4 * SD_INODE_DATA_INDEX;
export const SD_INODE_GREF_OFFSET = SD_INODE_HEADER_SIZE + SD_INODE_DATA_INDEX_SIZE;
export const SD_ATTR_OBJ_SIZE = 66320;
export const SD_LEDGER_OBJ_SIZE = 4 * 1024 * 1024;
export const SD_MAX_VDI_LEN = 256;
export const SD_MAX_VDI_TAG_LEN = 256;
export const SD_MAX_COPIES = 31;
export const SD_DEFAULT_COPIES = 3;
/** Largest flat VDI at 4 MiB objects. */
export const SD_OLD_MAX_VDI_SIZE = SD_DATA_OBJ_SIZE * SD_INODE_DATA_INDEX;
/** Largest hyper volume (2^54 bytes). */
export const SD_MAX_VDI_SIZE = 2 ** 54;

export function vidToVdiOid(vid: number): bigint {
  return VDI_BIT | (BigInt(vid) << 32n);
}

export function vidToDataOid(vid: number, idx: number): bigint {
  return (BigInt(vid) << 32n) | BigInt(idx >>> 0);
}

export function vidToVmstateOid(vid: number, idx: number): bigint {
  return VMSTATE_BIT | (BigInt(vid) << 32n) | BigInt(idx >>> 0);
}

export function vidToAttrOid(vid: number, attrId: number): bigint {
  return VDI_ATTR_BIT | (BigInt(vid) << 32n) | BigInt(attrId >>> 0);
}

export function vidToBtreeOid(vid: number, id: number): bigint {
  return VDI_BTREE_BIT | (BigInt(vid) << 32n) | BigInt(id >>> 0);
}

export function ledgerOid(dataOid: bigint): bigint {
  return LEDGER_BIT | dataOid;
}

export function oidToVid(oid: bigint): number {
  return Number((oid & VDI_MASK) >> 32n);
}

export function dataOidToIdx(oid: bigint): number {
  return Number(oid & U32);
}

export const isVdiObj = (oid: bigint): boolean => (oid & VDI_BIT) !== 0n;
export const isVmstateObj = (oid: bigint): boolean => (oid & VMSTATE_BIT) !== 0n;
export const isAttrObj = (oid: bigint): boolean => (oid & VDI_ATTR_BIT) !== 0n;
export const isBtreeObj = (oid: bigint): boolean => (oid & VDI_BTREE_BIT) !== 0n;
export const isLedgerObj = (oid: bigint): boolean => (oid & LEDGER_BIT) !== 0n;
export const isDataObj = (oid: bigint): boolean => (oid & KIND_BITS) === 0n;

/** Inode and ledger objects are kept sparse on disk. */
export const isSparseObj = (oid: bigint): boolean => isVdiObj(oid) || isLedgerObj(oid);

/** Size in bytes of an object of this kind (get_objsize of the original). */
export function objectSize(oid: bigint, blockSizeShift: number): number {
  if (isVdiObj(oid)) return SD_INODE_SIZE;
  if (isAttrObj(oid)) return SD_ATTR_OBJ_SIZE;
  if (isBtreeObj(oid)) return SD_INODE_DATA_INDEX_SIZE;
  if (isLedgerObj(oid)) return SD_LEDGER_OBJ_SIZE;
  return 2 ** blockSizeShift;
}

/** 16 lower-case hex digits, as object file names and dog print them. */
export function oidHex(oid: bigint): string {
  return oid.toString(16).padStart(16, '0');
}

/** Parse 16 hex digits (a file name's oid part); undefined if malformed. */
export function parseOidHex(s: string): bigint | undefined {
  if (!/^[0-9a-f]{16}$/.test(s)) return undefined;
  return BigInt('0x' + s);
}

/** Erasure-coding policy byte: high nibble = data strips / 2, low nibble = parity. */
export function ecPolicyToDp(policy: number): { d: number; p: number } {
  return { d: (policy >> 4) * 2, p: policy & 0x0f };
}

export function dpToEcPolicy(d: number, p: number): number {
  return ((d / 2) << 4) | p;
}

/** Objects that erasure coding applies to when the VDI has a policy. */
export function isEcObj(oid: bigint, copyPolicy: number): boolean {
  return copyPolicy !== 0 && !isVdiObj(oid) && !isBtreeObj(oid) && !isLedgerObj(oid);
}
