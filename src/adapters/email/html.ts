const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const URL = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** The HTML alternative of a reply: the text escaped, paragraphs and line breaks kept, links clickable. */
export function textToHtml(text: string): string {
  const paragraphs = text
    .trim()
    .split(/\n{2,}/)
    .map((p) => {
      const withLinks = escape(p).replace(URL, (u) => `<a href="${u}">${u}</a>`);
      return `<p>${withLinks.replace(/\n/g, '<br>\n')}</p>`;
    });
  return `<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">\n${paragraphs.join('\n')}\n</body></html>`;
}
