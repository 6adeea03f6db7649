/**
 * Duplicate-key detection for JSON text. `JSON.parse` silently keeps the last
 * of two equal keys, so a safetensors header could describe one tensor twice
 * and the reader would never know. This scanner walks text that `JSON.parse`
 * has already accepted and compares each object's keys after unescaping.
 *
 * @module
 */

interface ObjectFrame {
  readonly keys: Set<string>;
  expectingKey: boolean;
}

/**
 * The first key that appears twice in one object of the valid JSON `text`,
 * with the keys of the enclosing objects leading to it, or `undefined`.
 */
export function findDuplicateKey(text: string): { key: string; path: string[] } | undefined {
  // One frame per open container; arrays get `undefined`.
  const stack: (ObjectFrame | undefined)[] = [];
  const path: string[] = [];
  let lastKey = "";
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    const frame = stack[stack.length - 1];
    if (char === '"') {
      const end = closingQuote(text, i);
      if (frame !== undefined && frame.expectingKey) {
        const key: string = JSON.parse(text.slice(i, end + 1));
        if (frame.keys.has(key)) return { key, path: [...path] };
        frame.keys.add(key);
        frame.expectingKey = false;
        lastKey = key;
      }
      i = end;
    } else if (char === "{" || char === "[") {
      if (frame !== undefined) path.push(lastKey);
      else if (stack.length > 0) path.push("[]");
      stack.push(char === "{" ? { keys: new Set(), expectingKey: true } : undefined);
    } else if (char === "}" || char === "]") {
      stack.pop();
      path.pop();
    } else if (char === "," && frame !== undefined) {
      frame.expectingKey = true;
    }
  }
  return undefined;
}

/** Index of the quote that closes the string opening at `start`. */
function closingQuote(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  throw new SyntaxError("unterminated string in JSON text");
}
