// What the console stored in English and a server-rendered page shows as it is (a close's reason,
// an audit entry's detail) is marked data-console-words: shown in the page's language (labels.js).
import { consoleWords } from "./labels.js";

for (const el of document.querySelectorAll("[data-console-words]")) el.textContent = consoleWords(el.textContent);
