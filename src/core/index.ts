/**
 * lora2gguf core: PEFT LoRA adapter -> llama.cpp GGUF LoRA adapter. Pure TypeScript: no DOM,
 * no Node built-ins; all I/O through ByteSource / ByteSink.
 */
export { inspect, planFrom, planHeader } from './plan';
export type { ConversionPlan, PlannedTensor, PlannedModule, Diagnostic, InspectOptions, InspectInput, PartRecipe } from './plan';
export { convert, assertConvertible } from './convert';
export { simdAvailable } from './tensor/simd';
export type { ConvertOptions, ConvertResult, NonFiniteTensor, ProgressEvent } from './convert';
// What the page may import without the converter (errors, output types, Hub references, names,
// the catalogue lookup) lives in ./light; the whole core re-exports it.
export * from './light';
export type { ErrorCode, ErrorDetails, SerializedConversionError, AbortSignalLike } from './errors';
export { bytesSource, MemorySink, CountingSink } from './io';
export type { ByteSource, ByteSink } from './io';
export type { GgmlTypeName } from './tensor/encode';
export { parseAdapterConfig, parseBaseConfig } from './peft/config';
export { isMlxAdapterConfig, parseMlxInfo } from './mlx/adapter';
export { describeMlxAdapter, describeMlxLayers } from './mlx/describe';
export { mlxCheckpointStep, MLX_FINAL_WEIGHTS } from './mlx/files';
export { kvNumber, kvString, readGgufHeader, MAX_GGUF_HEADER_BYTES } from './gguf/reader';
export type { GgufHeaderRead, GgufTensorRead } from './gguf/reader';
export { checkAgainstBase, shardNames, splitPart } from './check/base';
export { readHubBaseModel } from './check/hub-base';
export type { AdapterShape, BaseModel, CheckProblem, CheckResult } from './check/base';
export { adapterShapeOf, inspectGgufAdapter } from './check/adapter-gguf';
export { modelCard } from './publish/card';
export type { CardInput } from './publish/card';
export type { InspectedAdapter, InspectedPair } from './check/adapter-gguf';
export type { MlxAdapterInfo } from './mlx/adapter';
export type { AdapterConfig, BaseConfig } from './peft/config';
export { FAMILIES, supportedArchitectures } from './arch/registry';
export { chooseBaseConfig, catalogueIds, CATALOGUE } from './catalogue/lookup';
export type { CatalogueHit, CatalogueEntry, ChosenBaseConfig } from './catalogue/lookup';
export type { HubRef, ParseHubRefOptions } from './hub/ref';
export { adapterFolders, openHubAdapter, openHubFile, fetchHubText, fetchModelInfo, resolveBaseConfig, hubFileUrl } from './hub/api';
export type { HubAdapter, ModelInfo, ResolvedBaseConfig, ResolveBaseOptions } from './hub/api';
export type { HttpRangeSource, RangeSourceOptions } from './hub/source';
export type { FetchLike, FetchInit, ResponseLike, HubClientOptions } from './hub/http';
