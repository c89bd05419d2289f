/// <reference types="vite/client" />

declare module '*.vue' {
  import { DefineComponent } from 'vue'
  const component: DefineComponent<{}, {}, any>
  export default component
}

// The two mini-program platforms' globals, used only inside their #ifdef blocks.
declare const wx: any
declare const my: any

interface ImportMetaEnv {
  readonly VITE_GJJ_API_BASE?: string
  readonly VITE_GJJ_API_HOST?: string
  readonly VITE_GJJ_WECHAT_TEMPLATE_IDS?: string
  readonly VITE_GJJ_ALIPAY_TEMPLATE_IDS?: string
}
