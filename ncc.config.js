// Entry points bundled by scripts/build.js. Each is compiled by tsc into lib/ first,
// then ncc bundles it with its dependencies into one ESM file under dist/.
export default {
  entries: [
    { input: 'lib/index.js', output: 'dist' },
    { input: 'lib/cli/index.js', output: 'dist/cli' },
  ],
  options: {
    minify: false,
    sourceMap: false,
    // License texts of bundled packages, as GitHub recommends for committed bundles.
    license: 'licenses.txt',
    quiet: true,
  },
};
