/* A tc program the verifier must reject: it reads packet data without a
 * bounds check. Used to check that apply shows the verifier's log and keeps
 * the previous datapath. */
#include <linux/bpf.h>

__attribute__((section("classifier"), used)) int cil_from_host(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	return *(int *)(data + 100);
}

char LICENSE[] __attribute__((section("license"), used)) = "Dual BSD/GPL";
