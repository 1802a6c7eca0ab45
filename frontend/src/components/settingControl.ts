/**
 * One generated control for one schema setting: number (with a linear or log slider), switch
 * or select, chosen by `type`; bounds, steps and help all come from the schema entry.
 */

import { h, setText, show } from "../dom";
import { formatSettingNumber } from "../format";
import { choiceLabel, settingHelp, settingLabel, t } from "../i18n";
import type { Setting, SettingValue } from "../types";

/** Slider resolution for float and log settings. */
const SLIDER_STEPS = 1000;
/** Integer ranges wider than this get a number box only (a seed has no useful slider). */
const MAX_INT_SLIDER_RANGE = 4096;

export interface ControlView {
  value: SettingValue | undefined;
  disabled: boolean;
  serverError: string | undefined;
}

export type Validation = { value: number } | { error: string };

/** Check a typed number against the setting's type and bounds, as the server will. */
export function validateNumber(setting: Setting, raw: string): Validation {
  const value = raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(value)) return { error: t("validation.number") };
  if (setting.type === "int" && !Number.isInteger(value)) return { error: t("validation.whole") };
  const { min, max } = setting;
  if ((min !== null && value < min) || (max !== null && value > max)) {
    const isInt = setting.type === "int";
    return {
      error: t("validation.range", {
        min: formatSettingNumber(min ?? -Infinity, isInt),
        max: formatSettingNumber(max ?? Infinity, isInt),
      }),
    };
  }
  return { value };
}

/** Maps a bounded numeric setting to and from slider positions (log scale when asked). */
class SliderScale {
  readonly steps: number;

  constructor(private readonly setting: Setting & { min: number; max: number }) {
    const linearInt = setting.type === "int" && setting.scale !== "log";
    this.steps = linearInt ? setting.max - setting.min : SLIDER_STEPS;
  }

  toPosition(value: number): number {
    const { min, max, scale } = this.setting;
    const f =
      scale === "log" ? Math.log(value / min) / Math.log(max / min) : (value - min) / (max - min);
    return Math.round(Math.min(1, Math.max(0, f)) * this.steps);
  }

  fromPosition(position: number): number {
    const { min, max, scale, type } = this.setting;
    const f = position / this.steps;
    const raw = scale === "log" ? min * Math.pow(max / min, f) : min + f * (max - min);
    if (type === "int") return Math.round(raw);
    // Two significant digits on a log scale (0.0031, 0.031), three decimals otherwise.
    const snapped = scale === "log" ? Number(raw.toPrecision(2)) : Math.round(raw * 1000) / 1000;
    return Math.min(max, Math.max(min, snapped));
  }
}

function hasBounds(setting: Setting): setting is Setting & { min: number; max: number } {
  return setting.min !== null && setting.max !== null && setting.max > setting.min;
}

export class SettingControl {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement | HTMLSelectElement;
  private readonly slider: HTMLInputElement | null = null;
  private readonly scale: SliderScale | null = null;
  private readonly error = h("p", { class: "field-error", attrs: { role: "alert" } });
  private localError: string | null = null;
  private current: SettingValue | undefined;

  get name(): string {
    return this.setting.name;
  }

  constructor(
    private readonly setting: Setting,
    private readonly commit: (name: string, value: SettingValue) => void,
  ) {
    const id = `setting-${setting.name}`;
    this.input = this.buildInput(id);
    if ((setting.type === "int" || setting.type === "float") && hasBounds(setting)) {
      const scale = new SliderScale(setting);
      if (setting.type === "float" || scale.steps <= MAX_INT_SLIDER_RANGE) {
        this.scale = scale;
        this.slider = this.buildSlider(id, scale);
      }
    }
    const label = h("label", { class: "setting-label", attrs: { for: id } }, settingLabel(setting));
    // Non-live settings say so where the eye already is: at the end of their help line.
    const resets = setting.live
      ? null
      : h("span", {
          class: "reset-note",
          testid: `${id}-resets`,
          i18n: "settings.resetsModel",
          i18nTitle: "settings.resetsModelTitle",
        });
    this.el = h(
      "div",
      {
        class: `setting setting-${setting.type}${setting.live ? " is-live" : ""}`,
        attrs: { "data-setting": setting.name, "data-live": String(setting.live) },
      },
      h("div", { class: "setting-head" }, label, this.input),
      this.slider,
      h("p", { class: "setting-help" }, settingHelp(setting), resets ? " " : null, resets),
      this.error,
    );
    show(this.error, false);
  }

  private buildInput(id: string): HTMLInputElement | HTMLSelectElement {
    const { setting } = this;
    const common = { testid: id, attrs: { id, name: setting.name } };
    if (setting.type === "choice") {
      const select = h("select", { ...common, class: "input input-choice" });
      for (const choice of setting.choices ?? []) {
        select.append(h("option", { attrs: { value: choice } }, choiceLabel(setting.name, choice)));
      }
      select.addEventListener("change", () => this.send(select.value));
      return select;
    }
    if (setting.type === "bool") {
      const box = h("input", {
        ...common,
        class: "switch",
        attrs: { ...common.attrs, type: "checkbox", role: "switch" },
      });
      box.addEventListener("change", () => this.send(box.checked));
      return box;
    }
    const number = h("input", {
      ...common,
      class: "input input-number",
      attrs: {
        ...common.attrs,
        type: "number",
        inputmode: setting.type === "int" ? "numeric" : "decimal",
        min: setting.min ?? undefined,
        max: setting.max ?? undefined,
        step: setting.type === "int" ? 1 : "any",
      },
    });
    number.addEventListener("change", () => this.sendTyped());
    number.addEventListener("input", () => this.showLocal(null));
    number.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.revert();
    });
    return number;
  }

  private buildSlider(id: string, scale: SliderScale): HTMLInputElement {
    const slider = h("input", {
      class: "slider",
      testid: `${id}-range`,
      attrs: {
        type: "range",
        min: 0,
        max: scale.steps,
        step: 1,
        "aria-label": settingLabel(this.setting),
      },
    });
    // Dragging shows the value; releasing commits it (one config change per gesture).
    slider.addEventListener("input", () => {
      this.input.value = formatSettingNumber(
        scale.fromPosition(slider.valueAsNumber),
        this.setting.type === "int",
      );
      this.showLocal(null);
    });
    slider.addEventListener("change", () => this.send(scale.fromPosition(slider.valueAsNumber)));
    return slider;
  }

  private sendTyped(): void {
    const result = validateNumber(this.setting, this.input.value);
    if ("error" in result) {
      this.showLocal(result.error);
      return;
    }
    this.showLocal(null);
    if (this.slider && this.scale) this.slider.value = String(this.scale.toPosition(result.value));
    this.send(result.value);
  }

  private send(value: SettingValue): void {
    if (value !== this.current) this.commit(this.setting.name, value);
  }

  private revert(): void {
    this.showLocal(null);
    this.render(this.current);
  }

  private showLocal(error: string | null): void {
    this.localError = error;
    this.el.classList.toggle("is-invalid", error !== null);
  }

  update(view: ControlView): void {
    const focused = document.activeElement === this.input;
    this.current = view.value;
    // Never overwrite what the user is typing, nor an invalid entry they have yet to fix.
    if (!focused && this.localError === null) this.render(view.value);
    this.input.disabled = view.disabled;
    if (this.slider) this.slider.disabled = view.disabled;
    const message = this.localError ?? view.serverError ?? null;
    setText(this.error, message ?? "");
    show(this.error, message !== null);
    this.el.classList.toggle("has-error", message !== null);
  }

  private render(value: SettingValue | undefined): void {
    if (value === undefined) return;
    if (this.input instanceof HTMLInputElement && this.input.type === "checkbox") {
      this.input.checked = value === true;
    } else if (typeof value === "number") {
      this.input.value = formatSettingNumber(value, this.setting.type === "int");
      if (this.slider && this.scale) this.slider.value = String(this.scale.toPosition(value));
    } else {
      this.input.value = String(value);
    }
  }
}
