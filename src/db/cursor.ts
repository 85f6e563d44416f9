/**
 * The server-side cursor Kysely streams with (`.stream(n)`, createDb): pg-cursor, with one fix.
 *
 * Kysely closes the cursor in a `finally` once reading stops, also after a read failed. pg-cursor's
 * close() then waits for the server's ReadyForQuery; on a connection that died mid-stream (the
 * backend was terminated, the network went) none ever comes, so the stream would hang for good:
 * its HTTP answer never ends and the pooled connection is never given back. A cursor that has
 * failed closes at once instead. That is safe on a live connection too: the failure already sent
 * Sync, and pg's client keeps the cursor as its active query, queueing the next query, until that
 * ReadyForQuery arrives; a dead client is dropped by the pool on release.
 */
import Cursor from 'pg-cursor';

export class StreamCursor<Row = unknown> extends Cursor<Row> {
  override close(): Promise<void>;
  override close(callback: (err: Error) => void): undefined;
  override close(callback?: (err: Error) => void): Promise<void> | undefined {
    if ((this as unknown as { state: string }).state === 'error') {
      if (!callback) return Promise.resolve();
      setImmediate(callback as () => void);
      return undefined;
    }
    return callback ? super.close(callback) : super.close();
  }
}
