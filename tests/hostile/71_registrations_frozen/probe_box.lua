-- a module's table: shared by every handler that requires it at the top level
return { inner = {} }
