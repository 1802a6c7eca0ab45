/**
 * A page with only the words and prices views, for tests/test_browser_words_prices.py, until
 * the app mounts them. Typing asks `window.answerWords` (the test's real model) for an answer;
 * `window.wordsPrices` hands the views to the test.
 */

import "../../styles.css";
import type { PriceForecast } from "./pricesData";
import { PricesView } from "./pricesView";
import type { WordsAnswer } from "./wordsData";
import { WordsView } from "./wordsView";

declare global {
  interface Window {
    answerWords?: (text: string) => Promise<WordsAnswer | null>;
    wordsPrices?: {
      words: WordsView;
      prices: PricesView;
      showForecast: (forecast: PriceForecast | null) => void;
    };
  }
}

let latest = 0;
const words = new WordsView((text) => {
  const asked = ++latest;
  void window.answerWords?.(text).then((answer) => {
    if (asked === latest) words.update(answer); // an older answer arriving late is dropped
  });
});
const prices = new PricesView();
document.body.append(words.el, prices.el);
window.wordsPrices = { words, prices, showForecast: (forecast) => prices.update(forecast) };
