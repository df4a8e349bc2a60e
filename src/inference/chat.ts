/**
 * The chat prompt format for Chimera's base models (trained on plain text, no special chat
 * tokens): a transcript
 *
 *   <system text>\n\n            (system / developer messages, if any)
 *   User: <text>\n
 *   Assistant: <text>\n
 *   …
 *   Assistant:                  (the model continues from here)
 *
 * Generation stops at the next turn marker ("\nUser:"), which `CHAT_STOPS` lists for callers to
 * add to their stop strings. The reply is trimmed of the leading space the format puts after
 * "Assistant:".
 */
export interface ChatTurn {
  role: "system" | "developer" | "user" | "assistant";
  content: string;
}

export const CHAT_STOPS = ["\nUser:", "\nAssistant:"];

export function chatPrompt(messages: readonly ChatTurn[]): string {
  const sys = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.content.trim());
  let out = sys.length ? sys.join("\n") + "\n\n" : "";
  for (const m of messages) {
    if (m.role === "user") out += `User: ${m.content.trim()}\n`;
    else if (m.role === "assistant") out += `Assistant: ${m.content.trim()}\n`;
  }
  return out + "Assistant:";
}

/** Strips the single space the format leaves after "Assistant:" from the start of a reply. */
export class ReplyTrimmer {
  private started = false;
  push(delta: string): string {
    if (this.started) return delta;
    const t = delta.replace(/^ /, "");
    if (delta.length > 0) this.started = true;
    return t;
  }
}
