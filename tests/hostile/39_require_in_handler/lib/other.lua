-- a module the bot never loads at its top level: a handler must not load it
return { other = true }
