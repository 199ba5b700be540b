// Cutting text for the command channel: on code points, so no piece ever ends with half of a
// UTF-16 surrogate pair (an emoji, say), which no UTF-8 frame can carry.

export function codePointChunks(text, size) {
  const chunks = [];
  let chunk = [];
  for (const char of text) {
    chunk.push(char);
    if (chunk.length === size) { chunks.push(chunk.join("")); chunk = []; }
  }
  if (chunk.length) chunks.push(chunk.join(""));
  return chunks;
}
