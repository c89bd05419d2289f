// Keyset-paginated lists ({items, next_cursor}): load(true) starts over, load(false) follows
// next_cursor (the manual's 更多 button).
import { ref, type Ref } from 'vue'
import { api, type Query } from '../api/client'

export interface PageSource {
  path: string
  query?: Query
}

export function usePagedList<T = Record<string, any>>(source: () => PageSource | null, limit = 20) {
  const items = ref([]) as Ref<T[]>
  const nextCursor = ref<string | null>(null)
  const loading = ref(false)
  // A restart (new tab, new date range) while a page is in flight must drop the stale answer.
  let generation = 0

  async function load(reset: boolean): Promise<void> {
    const target = source()
    if (!target || (loading.value && !reset)) return
    const mine = ++generation
    loading.value = true
    try {
      const body = await api.get(target.path, { ...(target.query || {}), cursor: reset ? undefined : nextCursor.value, limit })
      if (mine !== generation) return
      items.value = reset ? body.items : items.value.concat(body.items)
      nextCursor.value = body.next_cursor || null
    } catch (e) {
      // shown by the API client
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  function clear(): void {
    generation += 1
    items.value = []
    nextCursor.value = null
    loading.value = false
  }

  return { items, nextCursor, loading, load, clear }
}

export function navigate(url: string): void {
  uni.navigateTo({ url })
}
