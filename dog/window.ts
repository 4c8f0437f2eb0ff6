/**
 * Keep up to `limit` requests in flight and hand their results back in the
 * order they were issued. Used wherever dog pipelines requests on its one
 * connection (vdi list headers, vdi read objects...).
 */
export async function* orderedWindow<T, R>(
  items: Iterable<T>, limit: number, fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const it = items[Symbol.iterator]();
  const queue: Promise<R>[] = [];
  let done = false;
  const refill = (): void => {
    while (!done && queue.length < limit) {
      const n = it.next();
      if (n.done) {
        done = true;
        break;
      }
      const p = fn(n.value);
      p.catch(() => {}); // observed when its turn comes; avoid an unhandled rejection meanwhile
      queue.push(p);
    }
  };
  refill();
  while (queue.length > 0) {
    const r = await queue.shift()!;
    refill();
    yield r;
  }
}

/** 0, 1, ..., n-1 without an array (a hyper volume may have 2^32 objects). */
export function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}
