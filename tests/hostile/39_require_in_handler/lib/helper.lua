-- a module the bot loads at its top level
return { hello = function() return "hello from helper" end }
