import type { PostprocessStep } from './types';

/** CRLF and lone CR become LF, so every later step splits lines on "\n" alone. */
export const normalizeLineBreaks: PostprocessStep = (completion) => completion.replace(/\r\n?/g, '\n');
