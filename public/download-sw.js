/**
 * Streamed downloads, imported into the app's service worker (pwa.config.ts, workbox importScripts):
 * the conversion worker's output becomes the body of a download response, chunk by chunk, so a
 * browser without the save dialog and without (enough) private storage still saves any size
 * without holding the file in memory.
 *
 * 1. The page registers a download: postMessage({ type: 'lora2gguf-download', id, name, size })
 *    with two ports: [0] the data port (its other end goes to the conversion worker), [1] an
 *    acknowledgement port (answered { type: 'registered' }).
 * 2. The page opens /__lora2gguf_download__/<id>/<name>; this worker answers it with a stream.
 * 3. Each time the stream wants data it posts { type: 'pull' } on the data port; the conversion
 *    worker answers { type: 'chunk', buffer } (transferred), { type: 'done' } or
 *    { type: 'error', message }. The browser cancelling the download posts { type: 'cancel' }.
 *    An error or a short stream (Content-Length says the size) fails the download: the browser
 *    keeps no partial file.
 * If the conversion worker dies, the page posts { type: 'lora2gguf-download-abort', id }: the
 * download fails as above.
 * A probe — postMessage({ type: 'lora2gguf-download-ping' }, [port]) answered { type: 'pong' } —
 * tells the page that this service worker (not an older one without this file) is in control.
 */
const PREFIX = '/__lora2gguf_download__/';
/** Registered downloads not yet opened: id → { port, name, size }. Opened once, then forgotten. */
const registered = new Map();
/** Open downloads: id → a function that feeds a message into the stream (for the page's abort). */
const feeds = new Map();

self.addEventListener('message', (event) => {
  const data = event.data;
  if (!data || typeof data !== 'object') return;
  if (data.type === 'lora2gguf-download-ping' && event.ports[0]) {
    event.ports[0].postMessage({ type: 'pong' });
    return;
  }
  if (data.type === 'lora2gguf-download-abort' && typeof data.id === 'string') {
    const feed = feeds.get(data.id);
    if (feed) feed({ type: 'error', message: 'the conversion stopped' });
    registered.delete(data.id);
    return;
  }
  if (data.type !== 'lora2gguf-download') return;
  const [port, ack] = event.ports;
  if (!port || typeof data.id !== 'string' || typeof data.name !== 'string' || typeof data.size !== 'number') return;
  registered.set(data.id, { port, name: data.name, size: data.size });
  if (ack) ack.postMessage({ type: 'registered' });
});

/** A stream fed by the conversion worker through `port`, one chunk per pull. */
function streamFrom(port, id) {
  const inbox = [];
  let waiting = null;
  const feed = (message) => {
    if (waiting) {
      const deliver = waiting;
      waiting = null;
      deliver(message);
    } else {
      inbox.push(message);
    }
  };
  feeds.set(id, feed);
  port.onmessage = (event) => feed(event.data);
  const end = () => {
    feeds.delete(id);
    port.close();
  };
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => (waiting = resolve)));
  return new ReadableStream(
    {
      async pull(controller) {
        port.postMessage({ type: 'pull' });
        const message = await next();
        if (message && message.type === 'chunk') controller.enqueue(new Uint8Array(message.buffer));
        else if (message && message.type === 'done') {
          controller.close();
          end();
        } else {
          controller.error(new Error((message && message.message) || 'the conversion stopped'));
          end();
        }
      },
      cancel() {
        port.postMessage({ type: 'cancel' });
        end();
      },
    },
    { highWaterMark: 2 },
  );
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(PREFIX)) return;
  const id = decodeURIComponent(url.pathname.slice(PREFIX.length).split('/')[0] || '');
  const download = registered.get(id);
  if (!download) {
    event.respondWith(new Response('This download is no longer available; convert again.', { status: 404, headers: { 'Content-Type': 'text/plain' } }));
    return;
  }
  registered.delete(id);
  event.respondWith(
    new Response(streamFrom(download.port, id), {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(download.name)}`,
        'Content-Length': String(download.size),
        'Cache-Control': 'no-store',
      },
    }),
  );
});
