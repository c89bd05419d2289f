// H5 only: a browser's own date input. uni's H5 picker falls back to a scrolling popover on
// anything but desktop Windows/macOS, while phones' browsers show their native date wheels for this.
import { defineComponent, h } from 'vue'

export default defineComponent({
  name: 'NativeDate',
  inheritAttrs: false,
  props: {
    modelValue: { type: String, required: true },
    min: { type: String, default: '' },
    max: { type: String, default: '' },
  },
  emits: ['update:modelValue'],
  setup(props, { emit, attrs }) {
    return () =>
      h('input', {
        ...attrs,
        type: 'date',
        class: 'date-range__native',
        value: props.modelValue,
        min: props.min || undefined,
        max: props.max || undefined,
        onChange: (e: Event) => {
          const value = (e.target as HTMLInputElement).value
          if (value) emit('update:modelValue', value)
        },
      })
  },
})
