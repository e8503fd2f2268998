#include "textflag.h"

// func ended(batch []byte)
// NOP (d503201f) then RET: the uprobe replaces the NOP with a BRK.
TEXT ·ended(SB), NOSPLIT|NOFRAME, $0-24
	WORD $0xd503201f
	RET

// func head() uint64
TEXT ·head(SB), NOSPLIT|NOFRAME, $0-8
	MOVD $·ended(SB), R0
	MOVD (R0), R0
	MOVD R0, ret+0(FP)
	RET
