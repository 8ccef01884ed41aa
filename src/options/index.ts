export {
  COMMANDS,
  OPTIONS,
  commandOptions,
  definition,
  type Command,
  type OptionName,
  type OptionValues,
} from './definitions.js';
export { parseCommandLine } from './cli-args.js';
export { defaulted, readValues, type RawValues } from './read.js';
export { commandHelp, synopsis } from './help.js';
export { actionInputs, inputOf, renderActionYml, renderReadme } from './docs.js';
export { OUTPUTS, type OutputName } from './outputs.js';
export {
  defaultPallet,
  imageSelection,
  pullJobSettings,
  registryAccess,
  type JobSettings,
} from './job-options.js';
export { actionSetting, cliSetting } from './settings.js';
