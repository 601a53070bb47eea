/* A tc program that is not routec's but has the name of one of routec's
 * programs and no maps: apply must not adopt it from its name alone. */
#include <linux/bpf.h>

__attribute__((section("classifier"), used)) int cil_from_container(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

char LICENSE[] __attribute__((section("license"), used)) = "Dual BSD/GPL";
