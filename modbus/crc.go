package modbus

// crcTable is CRC-16/MODBUS (polynomial 0x8005 reflected as 0xA001) for
// every byte value.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the CRC-16/MODBUS of data (initial value 0xFFFF). An RTU
// frame carries it after its PDU, low byte first.
func CRC(data []byte) uint16 {
	c := uint16(0xFFFF)
	for _, b := range data {
		c = c>>8 ^ crcTable[byte(c)^b]
	}
	return c
}

// appendCRC appends the CRC of dst[start:] to dst, low byte first.
func appendCRC(dst []byte, start int) []byte {
	c := CRC(dst[start:])
	return append(dst, byte(c), byte(c>>8))
}
