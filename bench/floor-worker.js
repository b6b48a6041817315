// The browser's own I/O floor, measured in a dedicated worker as the converter's worker does its
// I/O (bench/browser.ts serves it): read a file the way the converter reads its input (6 MiB
// Blob slices, two at a time), then write a given number of bytes the two ways it writes its
// output (4 MiB chunks: through an OPFS sync access handle, then closed, unflushed as the app
// leaves it; and through a FileSystemWritableFileStream, two writes queued, then closed). No
// conversion: no converter can be faster in this browser than these.
const MiB = 1 << 20;

onmessage = async (event) => {
  const { file, outputBytes, step } = event.data;
  const buffer = new Uint8Array(6 * MiB);
  const chunk = new Uint8Array(4 * MiB);
  const root = await navigator.storage.getDirectory();
  const t0 = performance.now();
  if (step === 'read') {
    let offset = 0;
    const next = () => {
      if (offset >= file.size) return null;
      const p = file.slice(offset, Math.min(file.size, offset + 6 * MiB)).arrayBuffer();
      offset += 6 * MiB;
      return p;
    };
    let a = next();
    let b = next();
    while (a) {
      buffer.set(new Uint8Array(await a).subarray(0, buffer.byteLength));
      a = b;
      b = next();
    }
  } else if (step === 'storage') {
    const handle = await root.getFileHandle('floor-storage.bin', { create: true });
    const access = await handle.createSyncAccessHandle();
    for (let at = 0; at < outputBytes; at += chunk.byteLength) access.write(chunk.subarray(0, Math.min(chunk.byteLength, outputBytes - at)), { at });
    access.close();
  } else if (step === 'picker') {
    const handle = await root.getFileHandle('floor-picker.bin', { create: true });
    const writable = await handle.createWritable();
    const queued = [];
    for (let at = 0; at < outputBytes; at += chunk.byteLength) {
      queued.push(writable.write(chunk.subarray(0, Math.min(chunk.byteLength, outputBytes - at))));
      if (queued.length >= 2) await queued.shift();
    }
    await Promise.all(queued);
    await writable.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  for await (const name of root.keys()) await root.removeEntry(name);
  postMessage({ seconds });
};
