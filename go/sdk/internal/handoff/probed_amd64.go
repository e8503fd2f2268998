package handoff

// probed reports whether a uprobe sits on ended. One on its first
// instruction makes the first byte int3 (0xcc) or, once an optimized uprobe
// has been hit, a call (0xe8) into the kernel's trampoline, instead of the
// NOP's 0x0f. One on the RET at offset 5 (where an ordinary int3 uprobe can
// be put on purpose, to compare it with the optimized one) makes that byte
// 0xcc instead of 0xc3.
func probed(head uint64) bool {
	switch byte(head) {
	case 0xcc, 0xe8:
		return true
	}
	return byte(head>>40) == 0xcc
}
