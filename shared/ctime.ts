/**
 * Local-time formatting as C's strftime/ctime print it (the TZ environment
 * variable applies, as for the original).
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => String(n).padStart(2, '0');

/** The subset of strftime dog uses: %Y %m %d %H %M %S %b %a %e (and %2d = %d). */
export function strftime(fmt: string, seconds: number): string {
  const t = new Date(seconds * 1000);
  return fmt.replace(/%2?([YmdHMSbae%])/g, (_, c: string) => {
    switch (c) {
      case 'Y': return String(t.getFullYear());
      case 'm': return two(t.getMonth() + 1);
      case 'd': return two(t.getDate());
      case 'H': return two(t.getHours());
      case 'M': return two(t.getMinutes());
      case 'S': return two(t.getSeconds());
      case 'b': return MONTHS[t.getMonth()]!;
      case 'a': return DAYS[t.getDay()]!;
      case 'e': return String(t.getDate()).padStart(2, ' ');
      default: return '%';
    }
  });
}

/** C ctime(): `Www Mmm dd hh:mm:ss yyyy\n`, the newline included. */
export function ctime(seconds: number): string {
  return strftime('%a %b %e %H:%M:%S %Y', seconds) + '\n';
}
