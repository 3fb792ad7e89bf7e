/**
 * Streaming decode of generated text. A GPT-2 token can hold part of a UTF-8 character ('漢' is
 * three tokens), so text is emitted only once its bytes are complete.
 */
import { EOT, getTokenizer, type Tokenizer } from './tokenizer';

/** UTF-8 bytes in, complete characters out; malformed bytes become U+FFFD, as in a one-shot decode. */
export class Utf8StreamDecoder {
  // In stream mode TextDecoder holds back an incomplete trailing sequence until the next call.
  // ignoreBOM keeps a U+FEFF that the model generates instead of silently dropping it.
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  /** The text completed by these bytes (possibly ''). */
  push(bytes: Uint8Array): string {
    return this.decoder.decode(bytes, { stream: true });
  }

  /** Ends the stream: held-back bytes of an unfinished character become U+FFFD. Ready for reuse after. */
  flush(): string {
    return this.decoder.decode();
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
