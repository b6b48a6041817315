// The core compiles against the ES library only (no DOM, no Node). These two globals exist in
// every runtime the core targets (browsers, workers, Node >= 11), so they are declared here
// with just the surface the core uses.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
