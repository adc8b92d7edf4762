// A Go library for a C host: one exported function, nothing else.
package main

import "C"

//export GoNop
func GoNop() {}

func main() {}
