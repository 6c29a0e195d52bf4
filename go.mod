module checkoutkit

go 1.26

require (
	github.com/evanw/esbuild v0.28.2 // indirect
	github.com/stripe/stripe-go/v82 v82.5.1 // indirect
	github.com/syumai/workers v0.33.0 // indirect
)
