package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/tools/go/buildutil"
	"tinygo.org/x/espflasher/pkg/espflasher"
	"tinygo.org/x/go-llvm"
)

func main() {
	fmt.Println(buildutil.TagsFlagDoc, llvm.Version, errors.New)
}

func flashBinUsingEsp32(port, tmppath string) error {
	f, err := espflasher.New(port)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Flash(os.ReadFile(tmppath))
}

func afterwards() {}
