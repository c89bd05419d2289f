// Issuing a certificate (缴存证明, 贷款结清证明) and opening its PDF: the same steps whatever the
// kind; every kind's PDF is served by GET /fund/certificates/{serial_no}/pdf (owner only).
import { ref } from 'vue'
import { api } from '../api/client'
import { openPdf } from '../api/files'

export function useCertificate(label: string) {
  const certificate = ref<Record<string, any> | null>(null)
  const issuing = ref(false)

  /** POST ``path``; a refusal (e.g. loan.not_settled) is shown by the API client. */
  async function issue(path: string): Promise<void> {
    issuing.value = true
    try {
      certificate.value = await api.post(path, {}, { loading: '正在出具' })
    } catch (e) {
      // shown by the API client
    } finally {
      issuing.value = false
    }
  }

  function open(): void {
    const serial = certificate.value && certificate.value.serial_no
    if (!serial) return
    openPdf(`/fund/certificates/${encodeURIComponent(serial)}/pdf`, `${label}-${serial}.pdf`).catch(() => undefined)
  }

  return { certificate, issuing, issue, open }
}
