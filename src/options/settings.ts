import { inputOf } from './docs.js';

/** CLI advice names options as flags. */
export const cliSetting = (option: string) => `--${option}`;

/** Action advice names inputs, never CLI flags; the table gives each option's input. */
export const actionSetting = (option: string) => `input ${inputOf(option) ?? option}`;
