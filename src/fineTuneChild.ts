/**
 * Entry of the fine-tuning child process (bundled to dist/fineTuneProcess.js): training's process
 * loop (src/training/fineTuneProcess.ts) with the completion-quality judge, which runs the editor's
 * pipeline and so lives above training.
 */
import { pipelineQualityJudge } from './cli/fineTuneQuality';
import { serveFineTune } from './training/fineTuneProcess';

serveFineTune({ judge: pipelineQualityJudge });
