// Times and dates in the page's language (the <html lang> the console rendered), not the browser's
// own locale: a page in Chinese shows Chinese dates in an English browser too, like its text.
const LANG = document.documentElement.lang;

const CLOCK = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const HOUR_MINUTE = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const MONTH_DAY = new Intl.DateTimeFormat(LANG, { month: "short", day: "numeric" });

// `at`: an ISO timestamp, a Date or milliseconds since the epoch.
export const clockTime = (at) => CLOCK.format(new Date(at));
export const hourMinute = (at) => HOUR_MINUTE.format(new Date(at));
export const monthDay = (at) => MONTH_DAY.format(new Date(at));
