/**
 * Streaming decode of generated text. A GPT-2 token can hold part of a UTF-8 character ('漢' is
 * three tokens), so text is emitted only once its bytes are complete.
 */
import { EOT, getTokenizer, type Tokenizer } from './tokenizer';

/** What pushValid found: the text the bytes completed, and whether they broke UTF-8. */
export interface CheckedText {
  /** Complete characters, up to (not including) the first malformed byte. */
  text: string;
  /** True when a byte could not continue or start a character: no later byte can repair it. */
  malformed: boolean;
}

/** UTF-8 bytes in, complete characters out; malformed bytes become U+FFFD, as in a one-shot decode. */
export class Utf8StreamDecoder {
  // In stream mode TextDecoder holds back an incomplete trailing sequence until the next call.
  // ignoreBOM keeps a U+FEFF that the model generates instead of silently dropping it.
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  // A validator beside the decoder, following the same rules (WHATWG's UTF-8 decoder): continuation
  // bytes still expected, and the range the next one must fall in (narrower after E0, ED, F0, F4).
  private need = 0;
  private lower = 0x80;
  private upper = 0xbf;

  /** The text completed by these bytes (possibly ''). */
  push(bytes: Uint8Array): string {
    this.track(bytes);
    return this.decoder.decode(bytes, { stream: true });
  }

  /**
   * Like push, but stops at the first malformed byte instead of turning it into U+FFFD: the
   * text completed before it, and `malformed`. After a malformed push the stream is over (flush to reuse).
   */
  pushValid(bytes: Uint8Array): CheckedText {
    const bad = this.track(bytes);
    if (bad < 0) return { text: this.decoder.decode(bytes, { stream: true }), malformed: false };
    // Every byte before `bad` was valid, so decoding them yields only complete characters and
    // holds back the unfinished one that `bad` broke; that is dropped with the reset below.
    const text = this.decoder.decode(bytes.subarray(0, bad), { stream: true });
    this.reset();
    return { text, malformed: true };
  }

  /** Ends the stream: held-back bytes of an unfinished character become U+FFFD. Ready for reuse after. */
  flush(): string {
    this.need = 0;
    return this.decoder.decode();
  }

  private reset(): void {
    this.need = 0;
    this.decoder.decode(); // drops what the decoder held back
  }

  /** Advances the validator over `bytes`; the index of the first malformed byte, or -1. */
  private track(bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.need > 0) {
        if (b < this.lower || b > this.upper) {
          this.need = 0;
          return i;
        }
        this.need--;
        this.lower = 0x80;
        this.upper = 0xbf;
        continue;
      }
      if (b <= 0x7f) continue;
      this.lower = 0x80;
      this.upper = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) this.need = 1;
      else if (b >= 0xe0 && b <= 0xef) {
        this.need = 2;
        if (b === 0xe0) this.lower = 0xa0; // no overlong 3-byte forms
        if (b === 0xed) this.upper = 0x9f; // no UTF-16 surrogates
      } else if (b >= 0xf0 && b <= 0xf4) {
        this.need = 3;
        if (b === 0xf0) this.lower = 0x90; // no overlong 4-byte forms
        if (b === 0xf4) this.upper = 0x8f; // nothing past U+10FFFF
      } else return i; // a continuation byte with nothing to continue, C0, C1 or F5-FF
    }
    return -1;
  }
}

/** Token ids in, complete text out. EOT yields nothing (it is not text). */
export class TokenStreamDecoder {
  private readonly bytes = new Utf8StreamDecoder();

  constructor(private readonly tokenizer: Tokenizer = getTokenizer()) {}

  /** The text completed by this token (possibly ''). */
  push(id: number): string {
    if (id === EOT) return '';
    return this.bytes.push(this.tokenizer.tokenBytes(id));
  }

  flush(): string {
    return this.bytes.flush();
  }
}
