package runtime

// finalizerGCThreshold starts pressure GC.
const finalizerGCThreshold = 32

var numFinalizers int
