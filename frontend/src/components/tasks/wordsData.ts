/** The words task's `predict` answer, as the server sends it (backend/tasks/words/task.py). */

export interface WordToken {
  word: string;
  /** False for a word outside the vocabulary: the model reads it as `<unk>`. */
  known: boolean;
}

export interface NextWord {
  word: string;
  p: number;
  /** The `<unk>` entry: "some word the vocabulary does not have". */
  unk: boolean;
}

export interface WordsAnswer {
  seq: number;
  tokens: WordToken[];
  unknown: string[];
  top: NextWord[];
  continuation: string;
}
