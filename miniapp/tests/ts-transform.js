// Jest transform for the plain TypeScript helpers of src/utils (no Vue, no uni): esbuild, which
// vite already brings, strips the types; unit tests import those modules directly.
const { transformSync } = require('esbuild')

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, { loader: 'ts', format: 'cjs', target: 'node18', sourcemap: 'inline', sourcefile: filename })
    return { code, map }
  },
}
