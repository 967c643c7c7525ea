"""The providers' decisions as pure functions over typed values: no pulumi, no HTTP."""
