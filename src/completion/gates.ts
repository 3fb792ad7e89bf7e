/**
 * Whether to complete at all, decided before any work (debounce, cache, model).
 *
 * Which gates a manual trigger (Alt+\) passes, following Copilot:
 * - The per-language map is a hard off: a language the user disabled gets nothing, even on request
 *   (Copilot's `github.copilot.enable` behaves the same; it is how people silence plaintext/yaml).
 * - Pause, selection, several cursors and mid-line are about not interrupting typing; an explicit
 *   request bypasses them. Pause thus works as a "manual-only" mode: typing triggers nothing, Alt+\ still works.
 */
import type { CompletionRequest } from './types';

/** Per-language switch as in settings: `{"*": true, "plaintext": false}`; a specific key wins over "*". */
export type LanguageEnablement = Readonly<Record<string, boolean>>;

/** The default map: on everywhere but plain text and the source-control commit box. */
export const DEFAULT_LANGUAGE_ENABLEMENT: LanguageEnablement = { '*': true, plaintext: false, scminput: false };

export interface GateSettings {
  readonly languages: LanguageEnablement;
  /** Automatic completions paused (status-bar toggle); manual triggers still work. */
  readonly paused: boolean;
}

export type GateReason = 'language-disabled' | 'paused' | 'selection' | 'multiple-cursors' | 'mid-line';

export type GateResult = { readonly ok: true } | { readonly ok: false; readonly reason: GateReason };

/**
 * Copilot's rule for completing inside a line: only closers, quotes and one trailing
 * `:`, `{`, `;` or `,` may follow the cursor (e.g. `foo(|)` or `x = "|";`).
 */
const END_OF_LINE_LIKE = /^\s*[)>}\]"'`]*\s*[:{;,]?\s*$/;

/** True when the text after the cursor does not block a completion (see END_OF_LINE_LIKE). */
export function isEndOfLineLike(suffixOnLine: string): boolean {
  return END_OF_LINE_LIKE.test(suffixOnLine);
}

/** Looks the language up in the map: its own key, else "*", else enabled. */
export function isLanguageEnabled(languages: LanguageEnablement, languageId: string): boolean {
  if (Object.prototype.hasOwnProperty.call(languages, languageId)) return languages[languageId] === true;
  if (Object.prototype.hasOwnProperty.call(languages, '*')) return languages['*'] === true;
  return true;
}

const OK: GateResult = { ok: true };

function refuse(reason: GateReason): GateResult {
  return { ok: false, reason };
}

/** Runs the gates in order; the first that refuses gives the reason. */
export function checkGates(
  request: Pick<CompletionRequest, 'languageId' | 'suffixOnLine' | 'selectionEmpty' | 'cursorCount' | 'triggerKind'>,
  settings: GateSettings,
): GateResult {
  if (!isLanguageEnabled(settings.languages, request.languageId)) return refuse('language-disabled');
  if (request.triggerKind === 'manual') return OK;
  if (settings.paused) return refuse('paused');
  if (!request.selectionEmpty) return refuse('selection');
  if (request.cursorCount > 1) return refuse('multiple-cursors');
  if (!isEndOfLineLike(request.suffixOnLine)) return refuse('mid-line');
  return OK;
}
