/**
 * sheepfs entry point. The FUSE view of the cluster is not built yet; until
 * it is, the launcher says so plainly instead of pretending to mount.
 */
const HELP = `Usage: sheepfs [OPTION]... MOUNTPOINT
sheepfs is not available in this version yet: the FUSE view of the cluster
is still being built. Use dog to manage and read or write VDIs meanwhile.
`;

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  process.stdout.write(HELP);
} else {
  process.stderr.write('sheepfs: not available in this version yet (see sheepfs --help)\n');
  process.exitCode = 1;
}
