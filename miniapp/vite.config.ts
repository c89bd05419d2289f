import { defineConfig, type Plugin } from 'vite'
import uni from '@dcloudio/vite-plugin-uni'

// The H5 build must not make a member's browser call any host but the hall's own: uni-app's
// stylesheet loads the page-head shadow images from the vendor's CDN (and preloads them three
// seconds after start), which fails offline and tells a third party of every visit. CSS url()s to
// another host become `none` (the shadows are decoration), and Vue's production error message
// loses its link to the Vue docs. scripts/check-h5-offline.mjs fails the build's tests if any
// external URL is left.
const EXTERNAL_CSS_URL = /url\(\s*(['"]?)https?:\/\/[^)'"]+\1\s*\)/g
const VUE_ERROR_LINK = /https:\/\/vuejs\.org\/error-reference\/#runtime-/g

function noExternalHosts(): Plugin {
  return {
    name: 'gjj-no-external-hosts',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type === 'asset' && file.fileName.endsWith('.css') && typeof file.source === 'string') {
          file.source = file.source.replace(EXTERNAL_CSS_URL, 'none')
        } else if (file.type === 'chunk') {
          file.code = file.code.replace(VUE_ERROR_LINK, 'vue error reference runtime-')
        }
      }
    },
  }
}

export default defineConfig({
  plugins: [uni(), noExternalHosts()],
})
