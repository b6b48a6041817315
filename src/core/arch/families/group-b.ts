import type { ArchFamily } from '../types';
import { baichuan } from './baichuan';
import { chatglm } from './chatglm';
import { dbrx } from './dbrx';
import { deepseek2 } from './deepseek';
import { falcon } from './falcon';
import { gpt2, gptBigCode } from './gpt2';
import { bloom, gptneox } from './gptneox';
import { internlm2, internlm3 } from './internlm';
import { mamba } from './mamba';
import { mpt } from './mpt';

/** Families with fused projections or special layouts (registered in ../registry.ts). */
export const groupB: ArchFamily[] = [gptneox, bloom, falcon, gpt2, gptBigCode, mpt, internlm2, internlm3, baichuan, chatglm, dbrx, deepseek2, mamba];
