// Hands a vCard to the phone's address book.
//
// iOS Safari opens a text/vcard download as a contact preview ("Create New
// Contact") when the page navigates to it; a download attribute makes it a
// file in Downloads instead. Android Chrome downloads the file and Contacts
// opens it from the notification. Web Share with files would be nicer but
// .vcf is not on Chromium's list of shareable types (canShare is false), so
// it is used only where the browser says it can share the file and only on
// touch devices that are not iOS (where the preview is better).
// vCard 3.0 with CRLF and UTF-8 is what phones read most reliably.

function isIOS() {
  const ua = navigator.userAgent || '';
  return /iP(hone|ad|od)/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

export function safeFileName(name) {
  const base = String(name || 'contact').normalize('NFKC').replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ')
    .replace(/\s+/g, ' ').trim().slice(0, 60);
  return `${base || 'contact'}.vcf`;
}

// Returns 'shared', 'opened' or 'downloaded'.
export async function saveVcf(text, name) {
  const fileName = safeFileName(name);
  const blob = new Blob([text], { type: 'text/vcard;charset=utf-8' });
  if (!isIOS() && typeof File === 'function' && navigator.canShare) {
    const file = new File([blob], fileName, { type: 'text/vcard' });
    let can = false;
    try { can = navigator.canShare({ files: [file] }); } catch { can = false; }
    if (can) {
      try {
        await navigator.share({ files: [file], title: name });
        return 'shared';
      } catch (e) {
        if (e && e.name === 'AbortError') return 'cancelled';
        /* fall through to the download */
      }
    }
  }
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  // iOS: a new tab, so that the page (and an exchange in progress) stays.
  if (isIOS()) a.target = '_blank';
  else a.download = fileName;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return isIOS() ? 'opened' : 'downloaded';
}
