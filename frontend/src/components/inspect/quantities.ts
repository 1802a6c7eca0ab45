/** Names and one-line meanings of the quantities a cell exposes (i f g o c h, r z n, a). */

import { isMessageKey, t } from "../../i18n";

export function quantityName(q: string): string {
  const key = `q.${q}.name`;
  return isMessageKey(key) ? t(key) : q;
}

export function quantityHelp(q: string): string {
  const key = `q.${q}.help`;
  return isMessageKey(key) ? t(key) : "";
}
