package handoff

// probed reports whether a uprobe sits on ended: its first instruction (the
// NOP) or its second (the RET) is then a BRK (the kernel uses BRK #0x5 for
// uprobes).
func probed(head uint64) bool {
	const brkMask, brk = 0xffe0001f, 0xd4200000
	return uint32(head)&brkMask == brk || uint32(head>>32)&brkMask == brk
}
