//! routec's runtime: loads a build into the kernel and runs the namespace lab.
